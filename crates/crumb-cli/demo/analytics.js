document.cookie = "_plausible=1; path=/; samesite=lax";
