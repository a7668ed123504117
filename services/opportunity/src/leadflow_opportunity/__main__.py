from leadflow_opportunity.app import main

main()
