#!/usr/bin/env bash
# PullRequests at scale against a real Gitea (docs/performance.md): N PullRequests (default
# 100), the controller killed halfway and restarted; time to all Ready, duplicates, and forge
# API requests per PullRequest. Release build.
exec "$(dirname "$0")/bench-release.sh" bench-pullrequests "$@"
