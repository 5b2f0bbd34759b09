Pupils at Birchfield Primary School have turned an unused corner of their playground into a vegetable garden that now supplies the school kitchen with salad and herbs.

The project began when a class of nine-year-olds wrote to the head teacher asking for somewhere to grow food. Parents built raised beds from old pallets, and a local garden centre donated seeds and tools.

This term the garden produced lettuces, radishes, beans and mint, which the cook used in school lunches. Teachers say the children have started eating more vegetables since they began growing them, and the school now plans to add a small greenhouse.

@highlight

Birchfield Primary pupils turn a playground corner into a vegetable garden

@highlight

The garden supplies the school kitchen with salad and herbs

@highlight

Teachers say the children now eat more vegetables
