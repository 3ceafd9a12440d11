"""Trust primitives that must run without Django: the daemon, the bundle and the CLIs use them directly."""
