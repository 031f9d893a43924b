from .distributed import init_cpu_process_group

__all__ = ['init_cpu_process_group']
