"""Old import path of the lab, which is now the top-level package lab/.

Kept only so files being changed in parallel keep working (commands/crawl.py and demo.py,
tests/test_crawl_lab.py, test_distributed.py, test_liveness_lab.py, test_liveness_checker.py):
import `lab` / `lab.control` instead, passing `settings.lab_dir()` as the lab's root, then
delete this package.
"""
