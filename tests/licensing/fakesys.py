"""Fake system trees (/etc, /proc, /sys) for fingerprint tests: real files in tmp_path, no mocks."""

from __future__ import annotations

import os
from pathlib import Path

MACHINE_ID = "0123456789abcdef0123456789abcdef"
CPUINFO = (
    "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz\n"
    "flags\t\t: fpu vme de pse tsc msr sse sse2 avx2\n\nprocessor\t: 1\nvendor_id\t: GenuineIntel\n"
)


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def build_machine(
    root: Path,
    *,
    machine_id: str = MACHINE_ID,
    cpuinfo: str = CPUINFO,
    mac: str = "3c:ec:ef:12:34:56",
    disk_serial: str = "S4EWNX0R123456",
    tpm_pubek: str | None = "-----TPM EK public area 0011223344-----",
    dmi_product: str = "PowerEdge R640",
    extra_interfaces: bool = True,
) -> Path:
    """A physical server: machine id, CPU, one physical NIC (+ lo, docker0, random-MAC NICs), disk, TPM."""
    root.mkdir(parents=True, exist_ok=True)
    _write(root, "etc/machine-id", machine_id + "\n")
    _write(root, "proc/cpuinfo", cpuinfo)
    _write(root, "proc/1/cgroup", "0::/init.scope\n")
    _write(root, "proc/self/mounts", "/dev/nvme0n1p2 / ext4 rw,relatime 0 0\nproc /proc proc rw 0 0\n")
    set_mac(root, "eno1", mac)
    if extra_interfaces:
        _write(root, "sys/class/net/lo/address", "00:00:00:00:00:00\n")
        _write(root, "sys/class/net/docker0/address", "02:42:ac:11:00:02\n")  # virtual: no device link
        set_mac(root, "wlp2s0", "3c:ec:ef:99:99:99", assign_type="1")  # randomised MAC
        set_mac(root, "enp9s0", "06:11:22:33:44:55")  # locally administered
    (root / "sys/block/nvme0n1/nvme0n1p2").mkdir(parents=True, exist_ok=True)
    set_disk_serial(root, disk_serial)
    (root / "sys/block/loop0").mkdir(parents=True, exist_ok=True)
    if tpm_pubek is not None:
        _write(root, "sys/class/tpm/tpm0/pubek", tpm_pubek)
    _write(root, "sys/class/dmi/id/product_name", dmi_product + "\n")
    _write(root, "sys/class/dmi/id/sys_vendor", "Dell Inc.\n")
    return root


def set_mac(root: Path, iface: str, mac: str, assign_type: str = "0") -> None:
    base = root / "sys/class/net" / iface
    (base / "device").mkdir(parents=True, exist_ok=True)
    _write(root, f"sys/class/net/{iface}/address", mac + "\n")
    _write(root, f"sys/class/net/{iface}/addr_assign_type", assign_type + "\n")


def set_disk_serial(root: Path, serial: str) -> None:
    _write(root, "sys/block/nvme0n1/device/serial", serial + "\n")


def set_machine_id(root: Path, machine_id: str) -> None:
    _write(root, "etc/machine-id", machine_id + "\n")


def set_cpu_model(root: Path, model: str) -> None:
    _write(root, "proc/cpuinfo", CPUINFO.replace("Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz", model))


def make_container(root: Path) -> None:
    _write(root, ".dockerenv", "")
    _write(root, "proc/1/cgroup", "0::/system.slice/docker-4f1e.scope\n")


def make_vm(root: Path, product: str = "KVM") -> None:
    _write(root, "sys/class/dmi/id/product_name", product + "\n")


def add_usb_dongle(root: Path, vendor: str = "096e", product: str = "0006", serial: str = "DONGLE42") -> str:
    base = "sys/bus/usb/devices/1-2"
    _write(root, f"{base}/idVendor", vendor + "\n")
    _write(root, f"{base}/idProduct", product + "\n")
    _write(root, f"{base}/serial", serial + "\n")
    os.makedirs(root / "sys/bus/usb/devices/usb1", exist_ok=True)
    return f"{vendor}:{product}:{serial}"
