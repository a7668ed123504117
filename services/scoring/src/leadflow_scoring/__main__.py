from leadflow_scoring.app import main

main()
