"""What happens in Slack after the ack: a job's card or reaction, its progress, its images in the thread with
their footnote and buttons, and every "why not" message (jobs: the job queue's handler, `Delivery`; progress:
the status that counts seconds and shows streamed previews; uploads: the files, the footnote, the buttons)."""
