"""The `tongyi` engine: a ReAct agent on any OpenAI-compatible chat-completions endpoint."""

from gl_deep_research.engines.tongyi.engine import TongyiEngine

__all__ = ["TongyiEngine"]
