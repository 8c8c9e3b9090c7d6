"""Who the synthetic people are: names, gender, language, voice settings and sentences."""
from __future__ import annotations

import numpy as np

LANGUAGES = ("en", "es", "fr", "de")

FIRST = {
    ("en", "male"): ["James", "Oliver", "Harry", "George", "Jack", "Thomas", "William", "Henry"],
    ("en", "female"): ["Emily", "Olivia", "Grace", "Sophie", "Amelia", "Lucy", "Alice", "Ruby"],
    ("es", "male"): ["Mateo", "Pablo", "Diego", "Javier", "Carlos", "Miguel", "Andres", "Luis"],
    ("es", "female"): ["Lucia", "Sofia", "Carmen", "Elena", "Marta", "Paula", "Ines", "Rosa"],
    ("fr", "male"): ["Louis", "Hugo", "Jules", "Arthur", "Lucas", "Pierre", "Antoine", "Marcel"],
    ("fr", "female"): ["Camille", "Chloe", "Manon", "Juliette", "Claire", "Margaux", "Louise", "Adele"],
    ("de", "male"): ["Lukas", "Felix", "Jonas", "Maximilian", "Paul", "Stefan", "Tobias", "Klaus"],
    ("de", "female"): ["Hanna", "Lena", "Mia", "Katrin", "Greta", "Ingrid", "Sabine", "Frieda"],
}
LAST = {
    "en": ["Smith", "Turner", "Walker", "Wright", "Hughes", "Baker", "Carter", "Foster"],
    "es": ["Garcia", "Lopez", "Moreno", "Navarro", "Ortega", "Romero", "Vidal", "Serrano"],
    "fr": ["Martin", "Bernard", "Dubois", "Moreau", "Laurent", "Girard", "Roux", "Fournier"],
    "de": ["Muller", "Schmidt", "Weber", "Fischer", "Wagner", "Becker", "Hoffmann", "Krause"],
}
SENTENCES = {
    "en": [
        "The quick brown fox jumps over the lazy dog.", "Please call me when you arrive at the station.",
        "It is going to rain again this afternoon.", "My favourite colour has always been green.",
        "We walked along the river until the sun went down.", "Could you pass me the salt and pepper?",
        "The museum opens at nine on weekdays.", "I have never seen so many stars in the sky.",
        "Reading a good book is the best way to relax.", "The train to the city leaves in ten minutes.",
        "She planted tomatoes and beans in the garden.", "Numbers like seven and eleven are prime.",
    ],
    "es": [
        "El perro corre por el parque todas las mananas.", "Manana vamos a visitar a mis abuelos.",
        "La cocina huele a pan recien hecho.", "Me gusta escuchar musica cuando trabajo.",
        "El tren sale de la estacion a las ocho.", "Hace mucho calor en el verano de Sevilla.",
        "Mi hermana estudia medicina en la universidad.", "Por favor, cierra la ventana antes de salir.",
        "Los ninos juegan al futbol en la calle.", "Necesito comprar leche y huevos.",
        "El cielo esta despejado esta noche.", "La biblioteca esta cerrada los domingos.",
    ],
    "fr": [
        "Le petit chat dort sur le canape.", "Nous allons au marche tous les samedis.",
        "Il fait beau aujourd'hui, allons nous promener.", "Je voudrais un cafe et un croissant.",
        "Le train pour Paris part a midi.", "Ma grand-mere prepare une tarte aux pommes.",
        "Les enfants lisent des livres a la bibliotheque.", "Peux-tu fermer la porte, s'il te plait?",
        "La riviere traverse tout le village.", "Il pleut souvent en automne en Bretagne.",
        "J'apprends a jouer du piano depuis un an.", "Le musee ouvre ses portes a neuf heures.",
    ],
    "de": [
        "Der Hund spielt im Garten mit dem Ball.", "Wir fahren morgen mit dem Zug nach Berlin.",
        "Heute ist das Wetter wirklich sehr schon.", "Ich trinke jeden Morgen eine Tasse Kaffee.",
        "Die Kinder lesen gern spannende Geschichten.", "Kannst du bitte das Fenster schliessen?",
        "Im Winter liegt oft viel Schnee in den Bergen.", "Meine Schwester arbeitet in einem Krankenhaus.",
        "Der Bus kommt in funf Minuten an.", "Wir essen heute Abend Suppe und Brot.",
        "Die Bibliothek ist am Sonntag geschlossen.", "Das Konzert beginnt um acht Uhr.",
    ],
}
VARIANTS = {"male": [f"m{i}" for i in range(1, 8)], "female": [f"f{i}" for i in range(1, 6)]}


def make_people(n: int, languages: list[str], rng: np.random.Generator) -> list[dict]:
    """``n`` people, genders alternating, languages cycling; voice settings spread so voices differ."""
    people, used = [], set()
    for i in range(n):
        gender = "male" if i % 2 == 0 else "female"
        lang = languages[(i // 2) % len(languages)]
        for _ in range(100):
            name = f"{rng.choice(FIRST[(lang, gender)])}_{rng.choice(LAST[lang])}"
            if name not in used:
                break
        else:
            name = f"{name}_{i}"
        used.add(name)
        variants = VARIANTS[gender]
        # spread pitch over the range for this gender so that people sharing a variant still differ
        slot = (i // 2) / max(1, (n + 1) // 2 - 1) if n > 2 else 0.5
        pitch = int((25 + 30 * slot) if gender == "male" else (45 + 40 * slot))
        people.append({
            "name": name, "gender": gender, "language": lang,
            "voice": f"{lang}+{variants[(i // 2) % len(variants)]}",
            "pitch": pitch + int(rng.integers(-3, 4)),
            "rate": int(rng.integers(130, 200)),
            "range": int(rng.integers(20, 90)),
        })
    return people


def utterance_text(language: str, rng: np.random.Generator, max_sentences: int = 2) -> str:
    k = int(rng.integers(1, max_sentences + 1))
    return " ".join(rng.choice(SENTENCES[language], size=k, replace=False))
