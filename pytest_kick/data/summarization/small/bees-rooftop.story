A hospital in the city of Norford has put six beehives on its roof, and staff say the first harvest produced more than forty jars of honey.

The hives were installed last spring by a group of nurses and porters who keep bees as a hobby. They look after the colonies in their breaks, and the honey is sold in the hospital shop to raise money for the children's ward.

Beekeepers say city roofs can be good places for bees because parks and gardens offer a wide variety of flowers. The hospital plans to add two more hives next year and to run short beekeeping courses for patients recovering from long illnesses.

@highlight

Norford hospital keeps six beehives on its roof

@highlight

Nurses and porters look after the bees; the first harvest filled forty jars

@highlight

Honey sales raise money for the children's ward
