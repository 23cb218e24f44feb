from reexport.cli import main

raise SystemExit(main())
