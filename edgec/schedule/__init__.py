"""edgec.schedule"""
