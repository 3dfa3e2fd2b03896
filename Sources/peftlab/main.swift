import PeftlabCLI

Peftlab.main()
