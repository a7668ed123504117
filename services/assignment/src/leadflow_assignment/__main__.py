from leadflow_assignment.app import main

main()
