"""edgec.passes"""
