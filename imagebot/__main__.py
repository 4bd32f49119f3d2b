from imagebot.cli import main

raise SystemExit(main())
