"""Core OEM bundle: builder, manifest, platform packages and the bootstrap installer. Pure: never Django."""
