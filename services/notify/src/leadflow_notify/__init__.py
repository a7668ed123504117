"""leadflow notify: reminders, recycles, duplicate warnings, new assignments and collusion flags, to each person
through DingTalk, WeCom, Lark/Feishu robots or e-mail (apprise)."""
