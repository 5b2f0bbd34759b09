The Old Mill Bridge in the market town of Stanbury will close for eight months from March so that engineers can replace its crumbling supports, the county roads department said on Monday.

The stone bridge, built in 1832, carries about nine thousand vehicles a day over the river Lune. Inspections last autumn found that water had worn away parts of two of its supports. Drivers will be sent on a diversion of about six miles through the neighbouring village of Ashby.

Shop owners in the town centre fear they will lose customers while the bridge is shut. The roads department said it would keep a footbridge open beside the works so that people can still walk into town.

@highlight

Stanbury's Old Mill Bridge will close for eight months from March for repairs

@highlight

Water has worn away parts of two supports of the 1832 stone bridge

@highlight

Drivers face a six-mile diversion; a footbridge will stay open
