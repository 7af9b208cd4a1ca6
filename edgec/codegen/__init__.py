"""edgec.codegen"""
