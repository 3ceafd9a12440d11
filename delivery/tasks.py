"""Job handlers (thin): ids in, the pure builder or acceptance runs, a service records the outcome."""

from __future__ import annotations

from pathlib import Path

from . import services
from .models import BundleBuild

BUILD_KIND = services.BUILD_KIND
ACCEPTANCE_KIND = services.ACCEPTANCE_KIND


def bundle_build_job(ctx) -> None:
    from deploy.packaging.builder import BuildError, BuildOptions, build_bundle

    build = BundleBuild.objects.get(pk=int(ctx.params["build"]))
    out = services.bundles_root() / build.platform / f"build-{build.pk}"
    ctx.progress(1)
    try:
        result = build_bundle(BuildOptions(platform=build.platform, out_dir=out))
        ctx.log(f"built {result.bundle_dir} fingerprint {result.fingerprint}")
        services.bundle_build_record(build=build, bundle_dir=result.bundle_dir)
    except Exception as exc:  # the row never stays "building": any failure is recorded on it, then the job's
        services.bundle_build_fail(build=build, error=str(exc) if isinstance(exc, BuildError) else repr(exc))
        raise
    if result.report_path is not None:
        report = Path(result.report_path)
        ctx.add_result_file(
            name=report.name,
            path=str(report),
            size=report.stat().st_size,
            sha384=services.sha384_file(report),
        )


def bundle_acceptance_job(ctx) -> None:
    from delivery.acceptance.cli import run_acceptance

    build = BundleBuild.objects.get(pk=int(ctx.params["build"]))
    out = services.bundles_root() / "acceptance" / f"build-{build.pk}-job-{ctx.job.pk}.json"
    ctx.progress(1)
    try:
        result = run_acceptance(
            bundle_dir=Path(build.bundle_dir),
            out=out,
            rebuild=bool(ctx.params.get("rebuild")),
            allow_virtual=bool(ctx.params.get("allow_virtual")),
            log=ctx.log,
        )
    except Exception as exc:
        services.bundle_acceptance_fail(build=build, error=f"{type(exc).__name__}: {exc}")
        raise
    services.bundle_acceptance_record(
        build=build, path=result.path, sha384=result.sha384, report=result.report
    )
    ctx.add_result_file(
        name=result.path.name,
        path=str(result.path),
        size=result.path.stat().st_size,
        sha384=result.sha384[7:],
    )
    if not result.passed:
        raise RuntimeError(f"acceptance failed: {', '.join(result.report['failed_sections'])}")
