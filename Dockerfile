FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 STUDIO_VAR_DIR=/var/lib/studio
RUN apt-get update && apt-get install -y --no-install-recommends fonts-noto-cjk && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY studio studio
COPY projects projects
COPY renders renders
COPY frontend frontend
COPY locale locale
COPY manage.py ./
RUN pip install --no-cache-dir . && useradd --system --home /app studio && mkdir -p $STUDIO_VAR_DIR && chown studio $STUDIO_VAR_DIR
USER studio
EXPOSE 8000
CMD ["uvicorn", "studio.asgi:application", "--host", "0.0.0.0", "--port", "8000", "--proxy-headers"]
