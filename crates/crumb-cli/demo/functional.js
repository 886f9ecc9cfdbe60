document.cookie = "theme=dark; path=/; max-age=31536000; samesite=lax";
