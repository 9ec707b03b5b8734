"""The areas of the Cloudflare API that cfsim serves (one module each)."""
