from asgbench.cli import main

raise SystemExit(main())
