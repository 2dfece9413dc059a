"""calbot: book, list, cancel and reschedule Cal.com meetings by talking."""
