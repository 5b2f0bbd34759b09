A public library in the city of Harwick has started lending a small robot that helps children practise reading aloud.

The robot, about the size of a teddy bear, listens as a child reads a picture book and gently corrects mispronounced words. Librarians say shy readers find it easier to make mistakes in front of a machine than in front of a classmate.

The library bought four of the robots with a grant from a local charity. Families can borrow one for two weeks at a time, and the waiting list already has more than a hundred names. Head librarian Tom Okafor said the library hopes to buy more next year if the scheme proves popular.

@highlight

Harwick library lends a robot that helps children practise reading aloud

@highlight

Librarians say shy readers are more willing to make mistakes in front of it

@highlight

More than a hundred families are on the waiting list for the four robots
