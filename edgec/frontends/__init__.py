"""edgec.frontends"""
