The town council of Westbay voted on Tuesday to keep its century-old harbour ferry running for at least five more years, after more than two thousand residents signed a petition to save it.

The ferry, a green wooden boat called the Marigold, carries about three hundred passengers a day across the harbour, saving them a forty-minute drive around the bay. Council officers had proposed replacing it with a bus service to cut costs.

"People told us the ferry is part of who we are," said councillor Dana Pryce. The council will spend 400,000 pounds repairing the boat's engine and its landing stage. Ticket prices will rise by twenty pence in the spring.

@highlight

Westbay council votes to keep its harbour ferry for at least five more years

@highlight

More than two thousand residents signed a petition to save the boat

@highlight

Repairs will cost 400,000 pounds and fares will rise by twenty pence
