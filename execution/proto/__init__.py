"""The daemon's gRPC API: ``oem_daemon_v1.proto`` and its generated stubs in ``execution.proto.gen``."""
