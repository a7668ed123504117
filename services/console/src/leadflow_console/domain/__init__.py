"""console's rules: no I/O, no framework. What a page shows and in which order, what a form means as an API
call, the words in Chinese and English, and the sign-in rules."""
