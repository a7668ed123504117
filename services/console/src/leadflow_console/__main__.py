from leadflow_console.app import main

main()
