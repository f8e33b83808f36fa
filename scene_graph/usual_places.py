"""Where each household object type usually lives: common sense that the simulator stocks homes
with and that instructions such as "put the mugs away" resolve to."""
from __future__ import annotations

_FOOD = ("Fridge", "CounterTop", "DiningTable", "Bowl", "Plate")
_DISH = ("Cabinet", "CounterTop", "DiningTable", "Shelf", "SinkBasin")
_UTENSIL = ("Drawer", "CounterTop", "DiningTable")
_SMALL = ("SideTable", "Desk", "CoffeeTable", "Dresser", "Drawer", "Sofa", "Bed", "Shelf", "TVStand", "DiningTable")
_DECOR = ("Shelf", "CoffeeTable", "SideTable", "TVStand", "DiningTable", "Dresser")
_BATH = ("CounterTopBathroom", "Toilet", "Bathtub", "Cabinet", "Shelf")

# Where each type usually lives, most usual first; the usual receptacles of "put away".
HOME_OF: dict[str, tuple[str, ...]] = {
    **{t: _FOOD for t in ("Apple", "Tomato", "Lettuce", "Potato", "Egg", "Bread")},
    **{t: _DISH for t in ("Mug", "Cup", "Bowl", "Plate")},
    **{t: _UTENSIL for t in ("Knife", "ButterKnife", "Fork", "Spoon", "Spatula", "Ladle")},
    "Pan": ("StoveBurner", "Cabinet", "CounterTop"), "Pot": ("StoveBurner", "Cabinet", "CounterTop"),
    "Kettle": ("StoveBurner", "CounterTop"), "SaltShaker": ("CounterTop", "Cabinet", "DiningTable", "Shelf"),
    "PepperShaker": ("CounterTop", "Cabinet", "DiningTable", "Shelf"), "DishSponge": ("SinkBasin", "CounterTop"),
    "SoapBottle": ("CounterTop", "CounterTopBathroom", "Bathtub"), "Bottle": ("Fridge", "CounterTop", "Shelf"),
    "WineBottle": ("Fridge", "CounterTop", "DiningTable", "Shelf"),
    "Book": ("Shelf", "Desk", "SideTable", "CoffeeTable", "Bed", "Sofa", "Dresser"),
    "Newspaper": ("CoffeeTable", "Sofa", "DiningTable", "SideTable"),
    **{t: _SMALL for t in ("CellPhone", "KeyChain", "CreditCard", "Watch", "RemoteControl", "CD", "Pen", "Pencil")},
    "Laptop": ("Desk", "Bed", "Sofa", "CoffeeTable", "DiningTable"),
    "AlarmClock": ("SideTable", "Desk", "Dresser", "Shelf"), "Pillow": ("Sofa", "Bed", "ArmChair"),
    "Vase": _DECOR, "Statue": _DECOR, "Box": ("Shelf", "CoffeeTable", "Desk", "Dresser", "SideTable"),
    "TissueBox": ("SideTable", "CoffeeTable", "Desk", "Dresser", "CounterTopBathroom", "Toilet"),
    "Candle": ("Shelf", "CoffeeTable", "CounterTopBathroom", "Bathtub", "SideTable"),
    "Towel": ("Bathtub", "CounterTopBathroom", "Shelf"), "HandTowel": ("CounterTopBathroom", "Bathtub", "Shelf"),
    "SoapBar": ("CounterTopBathroom", "Bathtub", "SinkBasin", "Toilet"), "ToiletPaper": _BATH,
    "SprayBottle": _BATH, "Plunger": ("Bathtub", "CounterTopBathroom", "Toilet"),
    "ScrubBrush": _BATH, "Cloth": ("CounterTopBathroom", "Bathtub", "Cabinet", "Drawer", "Bed"),
}
