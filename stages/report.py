"""Stage ``report``: reports/index.html, one self-contained page of the corpus, the models and their plots."""
from facevoice.report import build
from facevoice.stage import main

if __name__ == "__main__":
    main(lambda: print(build()))
