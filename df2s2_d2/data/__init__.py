"""WIDER FACE and synthetic face data: parsing, registration, mapper."""
