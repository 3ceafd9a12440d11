"""Detached OpenPGP signatures by the real `gpg`, with the release key imported into a throwaway GNUPGHOME.

The vendor's keyrings are never touched: each build imports the release key into a fresh 0700 directory,
signs with `--faked-system-time` = SOURCE_DATE_EPOCH (or the key's creation time when that is later), stops
the agent it started and deletes the directory. Ed25519 signatures are deterministic, so the `.asc` is
reproducible too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

PASSPHRASE_FILE_ENV = "OEM_RELEASE_GPG_PASSPHRASE_FILE"  # noqa: S105 - an environment variable name


class GpgError(ValueError):
    """gpg is missing or refused. One line."""


class ThrowawayGpg:
    def __init__(self, key_file: Path, epoch: int):
        self.key_file = Path(key_file)
        self.epoch = epoch
        self.home: Path | None = None
        self.fingerprint = ""
        self.sign_time = epoch

    def _gpg(self, *args: str, data: bytes | None = None) -> bytes:
        if self.home is None:
            raise GpgError("gpg home is not open")
        passphrase = os.environ.get(PASSPHRASE_FILE_ENV)
        secret_args = ["--pinentry-mode", "loopback"]
        secret_args += ["--passphrase-file", passphrase] if passphrase else ["--passphrase", ""]
        command = ["gpg", "--batch", "--no-tty", "--quiet", "--homedir", str(self.home), *secret_args, *args]
        try:
            done = subprocess.run(command, input=data, capture_output=True, timeout=120, check=False)
        except FileNotFoundError:
            raise GpgError("gpg is not installed") from None
        if done.returncode != 0:
            message = " ".join(done.stderr.decode("utf-8", "replace").split())[:300]
            raise GpgError(f"gpg {args[0]} failed: {message}")
        return done.stdout

    def __enter__(self) -> ThrowawayGpg:
        if not self.key_file.is_file():
            raise GpgError(f"release OpenPGP key {self.key_file} does not exist")
        self.home = Path(tempfile.mkdtemp(prefix="oem-gnupg-"))
        os.chmod(self.home, 0o700)
        try:
            self._gpg("--import", str(self.key_file))
            listing = self._gpg("--with-colons", "--list-secret-keys").decode("ascii", "replace")
            fingerprints = [line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr:")]
            created = [line.split(":")[5] for line in listing.splitlines() if line.startswith("sec:")]
            if not fingerprints or not created or not created[0].isdigit():
                raise GpgError(f"{self.key_file} holds no usable secret key")
            self.fingerprint = fingerprints[0]
            # gpg refuses to sign before the key existed; a later fixed time keeps the .asc reproducible.
            self.sign_time = max(self.epoch, int(created[0]))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.home is not None:
            subprocess.run(
                ["gpgconf", "--homedir", str(self.home), "--kill", "all"], capture_output=True, check=False
            )
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None

    def public_key(self) -> bytes:
        return self._gpg("--armor", "--export", self.fingerprint)

    def detach_sign(self, data: bytes) -> bytes:
        return self._gpg(
            "--armor",
            "--detach-sign",
            "--local-user",
            self.fingerprint,
            "--digest-algo",
            "SHA384",
            "--faked-system-time",
            f"{self.sign_time}!",
            "--output",
            "-",
            data=data,
        )
