"""Converters of checkpoints from other code bases into this plugin."""
from .clamp import (CLAMP_AP10K_KEYPOINT_NAMES, CLAMP_DEFAULT_CONFIGS,
                    CLAMP_DERIVED_KEYS, CLAMP_KEY_RULES, CLAMP_MISMATCH_HINTS,
                    CLAMP_UNUSED_KEYS, CLAMPConversionError, ConversionResult,
                    build_target_model, check_target_backbone,
                    clamp_compatibility_warnings, clamp_keypoint_names,
                    clamp_keypoint_names_from_meta, convert_clamp_checkpoint,
                    convert_clamp_state_dict, default_clamp_config,
                    detect_clamp_backbone, load_clamp_state_dict,
                    load_target_config, rename_clamp_key, write_clamp_config)

__all__ = [
    'CLAMP_AP10K_KEYPOINT_NAMES', 'CLAMP_DEFAULT_CONFIGS',
    'CLAMP_DERIVED_KEYS', 'CLAMP_KEY_RULES', 'CLAMP_MISMATCH_HINTS',
    'CLAMP_UNUSED_KEYS', 'CLAMPConversionError', 'ConversionResult',
    'build_target_model', 'check_target_backbone',
    'clamp_compatibility_warnings', 'clamp_keypoint_names',
    'clamp_keypoint_names_from_meta', 'convert_clamp_checkpoint',
    'convert_clamp_state_dict', 'default_clamp_config',
    'detect_clamp_backbone', 'load_clamp_state_dict', 'load_target_config',
    'rename_clamp_key', 'write_clamp_config'
]
