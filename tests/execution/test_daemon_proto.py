"""The committed stubs are exactly what generate.py produces (drift test), and they import cleanly."""

from pathlib import Path

from execution.proto import generate


def test_generated_stubs_match_the_proto(tmp_path):
    written = generate.generate(tmp_path)
    committed = Path(generate.DEFAULT_OUT)
    for path in written:
        assert (committed / path.name).read_bytes() == path.read_bytes(), (
            f"{path.name} drifted: run make proto"
        )


def test_grpc_module_imports_pb2_through_the_package():
    text = (Path(generate.DEFAULT_OUT) / "oem_daemon_v1_pb2_grpc.py").read_text()
    assert "from execution.proto.gen import oem_daemon_v1_pb2" in text
    from execution.proto.gen import oem_daemon_v1_pb2_grpc

    assert hasattr(oem_daemon_v1_pb2_grpc, "OemDaemonStub")


def test_generation_is_deterministic(tmp_path):
    first = {p.name: p.read_bytes() for p in generate.generate(tmp_path / "a")}
    second = {p.name: p.read_bytes() for p in generate.generate(tmp_path / "b")}
    assert first == second
