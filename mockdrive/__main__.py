from .cli import main

if __name__ == "__main__":  # ``python -m mockdrive``; importing the module runs nothing
    raise SystemExit(main())
