"""One writer per real dataset layout; each writes exactly the files a real download has."""
