"""ASG pre-training: report parsing, anatomy, model, losses, data and the trainer."""
