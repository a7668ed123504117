from leadflow_pool.app import main

main()
