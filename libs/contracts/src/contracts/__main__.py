from contracts.cli import main

raise SystemExit(main())
