"""Models of this app arrive with its features; the app is registered now so its shape is fixed."""
