from leadflow_intake.app import main

main()
