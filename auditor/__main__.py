"""`python -m auditor` is the same as the `auditor` command."""

from auditor.cli import main

if __name__ == "__main__":  # pragma: no cover - exercised through subprocess tests
    main()
