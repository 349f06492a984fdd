"""Importers of precomputed embeddings (Amumo exports, Liang et al.'s arrays, tables, store entries).

Each returns ``(PairSet | None, {model name: Embeddings})``; the registry is
:data:`explorer.sources.IMPORTERS`.
"""
