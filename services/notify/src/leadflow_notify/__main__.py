from leadflow_notify.app import main

main()
