"""WIDER FACE evaluation by the official protocol."""
