"""Runbooks as data (audit/runbooks/data/*.yaml): one source for docs/runbooks/*.md, the console checklists
and the signed checklist PDF. Pure Python, no Django.

- model: load_runbooks(), checklist(id), version(checklist) -> "sha384:<hex>" (what e-signatures bind to)
- render: render_all(out_dir), check(out_dir) - the Markdown runbooks and their drift check
- cli: render_runbooks_main(argv) - `scripts/render_runbooks.py [--check] [--out DIR]`
- pdf: render_checklist_pdf(checklist_document) - docs/schemas/signed_checklist_v1.json
"""
