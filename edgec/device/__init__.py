"""edgec.device"""
