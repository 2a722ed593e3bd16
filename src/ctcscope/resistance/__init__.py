"""ALK-inhibitor resistance: knowledge base with evidence, mutation parser, patient sheet,
and the interpretation engine that reads each patient's cells.

For research use only; not a medical device and not a substitute for a molecular tumour
board.
"""
from .knowledge import KnowledgeBase, load_knowledge_base
from .mutations import AlkMutation, AlkVariant, alk_sequence, parse_mutation

__all__ = ["AlkMutation", "AlkVariant", "KnowledgeBase", "alk_sequence", "load_knowledge_base", "parse_mutation"]
